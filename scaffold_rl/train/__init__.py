"""Training: the TRL trainer subclass (trainer.py), the run driver (run.py), plans and process groups.

`scaffold_rl.train` is also the Python entry point: calling this package, `scaffold_rl.train(config, ...)`, runs
`scaffold_rl.api.train` (see there). The package stays importable as before (`scaffold_rl.train.run`); only
calling it is added, and calling it is what imports the trainer and TRL.
"""
import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from scaffold_rl.api import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
