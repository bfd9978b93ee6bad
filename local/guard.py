"""`python -m local.guard CMD...`: run CMD as a child and end it when we end or lose our parent.

The local stack starts Java (DynamoDB Local) through this, so that no Java outlives the stack,
even one killed with no chance to clean up (SIGKILL, a test run that crashed).
"""

import signal
import subprocess
import sys

from local.lambda_worker import exit_with_parent


def main(command: list[str]) -> int:
    child = subprocess.Popen(command)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the stack; it stops us
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    exit_with_parent(on_exit=child.terminate)
    # Wait in short steps: Python runs a signal's handler in the main thread only, and a
    # SIGTERM the kernel hands to the parent-watching thread would leave a main thread blocked
    # in an endless wait() without running it (seen after a SIGSTOP/SIGCONT pause: the child
    # outlived the stop).
    while True:
        try:
            return child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
