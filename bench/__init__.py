"""The benchmark: load sent through the tower, and the time its pages take.

This package may import anything of the project; nothing of the project imports it.
"""
