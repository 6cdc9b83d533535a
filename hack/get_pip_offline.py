"""Offline stand-in for the pip bootstrap script (get-pip.py) that ansible-test downloads.

ansible-test creates its sanity and unit-test virtual environments without pip, then fetches
get-pip-<version>.py from ci-files.testing.ansible.com to install it. That host is not reachable from
our machines or CI (only the package registries are), so hack/ansible-test.sh seeds ansible-test's cache
(~/.ansible/test/cache/get_pip_<version>.py) with this file. It is called the way get-pip.py is
(``python get_pip.py [pip install options] pip==X ...``; the GET_PIP environment variable names it) and does the
same job with what CPython ships: ensurepip, then pip installs the requested packages from the registry.
"""

import subprocess
import sys

# get-pip.py options that pip install itself does not know.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade", *args])


if __name__ == "__main__":
    main()
