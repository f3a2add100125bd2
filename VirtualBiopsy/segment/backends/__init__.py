"""Inference backends: nnU-Net v2 trained-model folders and MONAI networks, on SimpleITK images."""
