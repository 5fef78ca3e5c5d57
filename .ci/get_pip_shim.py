"""Offline stand-in for the get-pip.py that ansible-test downloads.

ansible-test bootstraps pip in every managed venv by fetching get-pip.py from
ci-files.testing.ansible.com, which this build machine cannot reach.  The
Makefile copies this file to ~/.ansible/test/cache/get_pip_<version>.py, where
ansible-test looks before downloading.

pip comes from the interpreter's bundled ensurepip instead.  ensurepip runs in
a child process on purpose: run in-process it sets PIP_CONFIG_FILE=/dev/null,
which hides /etc/pip.conf (and its CA bundle) from the pip install below.
"""

import subprocess
import sys


def main(argv):
    drop_setuptools = "--no-setuptools" in argv
    pip_args = [arg for arg in argv if arg not in ("--no-setuptools", "--no-wheel")]

    subprocess.check_call(
        [sys.executable, "-m", "ensurepip", "--upgrade"],
        stdout=subprocess.DEVNULL,
    )
    rc = subprocess.call([sys.executable, "-m", "pip", "install", "-q"] + pip_args)
    if rc == 0 and drop_setuptools:
        subprocess.call([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "setuptools"])
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
