from .transreid_vit import TransReIDViT, grid_size

__all__ = ['TransReIDViT', 'grid_size']
