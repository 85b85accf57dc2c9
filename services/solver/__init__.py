"""The intent solver: fills ERC-7683 orders from its own inventory, is paid on the origin after the proof."""
