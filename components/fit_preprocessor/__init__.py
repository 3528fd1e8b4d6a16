from .component import fit_preprocessor

__all__ = ["fit_preprocessor"]
