from .component import plan_tuning

__all__ = ["plan_tuning"]
