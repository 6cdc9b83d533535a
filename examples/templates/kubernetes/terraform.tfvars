namespace = "coder-workspaces"
