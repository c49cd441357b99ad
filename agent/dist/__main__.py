import sys
from pathlib import Path

from agent.dist.deb import build_deb
from agent.dist.wheel import build_wheel

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/agent")
print(build_deb(out))
print(build_wheel(out))
