from .component import check_data_quality

__all__ = ["check_data_quality"]
