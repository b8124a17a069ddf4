"""scaffold-rl: RL for reasoning LMs that crosses the learning cliff."""

__version__ = "0.1.0"
