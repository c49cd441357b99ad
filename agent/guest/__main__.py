import sys

from agent.guest.main import main

sys.exit(main(sys.argv[1:]))
