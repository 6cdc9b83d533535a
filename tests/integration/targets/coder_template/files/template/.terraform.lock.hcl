# lock
