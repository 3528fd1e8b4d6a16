"""sealtrain components.

`sealtrain.components.core` holds the business logic as plain Python; it never imports kfp.
Each sibling folder holds one thin KFP component that imports that logic at run time.
"""
