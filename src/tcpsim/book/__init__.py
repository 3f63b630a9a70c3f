"""The book layer: drop-a-packet panels (`panels`; their static figure in `figure`,
the ipywidgets panel for JupyterLab in `live`, pre-computed runs on the website),
every word they show (`text`) and the Sphinx extension that writes them (`sphinx`)."""
