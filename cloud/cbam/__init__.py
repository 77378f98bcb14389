"""EU CBAM figures of industrial installations: the site model's industrial part, per-product
specific embedded emissions from metered energy and production counters, and their exports."""
