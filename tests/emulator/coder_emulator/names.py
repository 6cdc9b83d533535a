"""Name rules from codersdk (validator tags), see reference section 1.7."""

import re
import secrets

_NAME_RE = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
_DISPLAY_RE = re.compile(r"^[^\s](.*[^\s])?$", re.DOTALL)
# go-playground's email check is an RFC 5322 regex; this simpler form accepts the same common
# addresses and rejects the obvious garbage (no @, spaces, missing domain).
_EMAIL_RE = re.compile(r"^[^\s@\"<>(),;:\\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")
_RESERVED = {"new", "create"}


def name_valid(name: str) -> bool:
    """codersdk.NameValid: usernames, org and template names."""
    return 0 < len(name) <= 32 and bool(_NAME_RE.match(name)) and name not in _RESERVED


def group_name_valid(name: str) -> bool:
    """codersdk.GroupNameValid: the NameValid pattern, up to 255 characters ("Everyone" is the handler's)."""
    return 0 < len(name) <= 255 and bool(_NAME_RE.match(name)) and name not in _RESERVED


def display_name_valid(name: str) -> bool:
    """codersdk.DisplayNameValid: empty is fine."""
    if name == "":
        return True
    return len(name) <= 64 and bool(_DISPLAY_RE.match(name))


def user_real_name_valid(name: str) -> bool:
    """codersdk.UserRealNameValid: <=128 chars, no surrounding whitespace (empty allowed)."""
    if name == "":
        return True
    return len(name) <= 128 and name.strip() == name


def email_valid(email: str) -> bool:
    return bool(_EMAIL_RE.match(email))


_VERSION_RE = re.compile(r"^[a-zA-Z0-9]+(?:[_.-]{1}[a-zA-Z0-9]+)*$")
# A slice of moby's namesgenerator lists, which coderd uses for default version names.
_ADJECTIVES = ("admiring", "affectionate", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "brave",
               "charming", "clever", "cool", "compassionate", "competent", "confident", "dazzling", "determined",
               "eager", "ecstatic", "elastic", "elegant", "epic", "festive", "focused", "friendly", "gallant",
               "gifted", "goofy", "happy", "hopeful", "jolly", "keen", "kind", "laughing", "loving", "lucid",
               "modest", "nifty", "nostalgic", "optimistic", "peaceful", "practical", "quirky", "relaxed",
               "serene", "sharp", "stoic", "sweet", "tender", "trusting", "upbeat", "vibrant", "wizardly",
               "youthful", "zealous")
_SURNAMES = ("agnesi", "albattani", "archimedes", "babbage", "bardeen", "bell", "bohr", "cannon", "curie",
             "darwin", "dijkstra", "einstein", "euclid", "feynman", "galileo", "goldberg", "hamilton", "hopper",
             "hypatia", "kepler", "knuth", "lamport", "lovelace", "mayer", "mccarthy", "meitner", "newton",
             "noether", "pascal", "ritchie", "shannon", "thompson", "torvalds", "turing", "wilson", "wozniak")


def template_version_name_valid(name: str) -> bool:
    """codersdk.TemplateVersionNameValid."""
    return 0 < len(name) <= 64 and bool(_VERSION_RE.match(name))


def random_version_name() -> str:
    """namesgenerator.GetRandomName(1): adjective_surname, sometimes with a digit appended."""
    name = f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_SURNAMES)}"
    return name + str(secrets.randbelow(10)) if secrets.randbelow(4) == 0 else name
