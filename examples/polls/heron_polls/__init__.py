"""heron's polls example: aiohttp's server tutorial, run on heron."""
