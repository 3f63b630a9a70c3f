"""The book layer: drop-a-packet panels (ipywidgets in JupyterLab, pre-computed
runs on the website) and the Sphinx extension that writes them."""
