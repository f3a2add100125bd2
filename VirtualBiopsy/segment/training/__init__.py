"""Training segmentation models: nnU-Net raw-dataset export, planning, preprocessing and training."""
