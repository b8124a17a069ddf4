"""Process rewards: automatic step labels, the process reward model, its training and evaluation."""
