"""Fault injection: `devnet chaos ...`, the test handle's chaos helpers, and the devnet's warden."""
