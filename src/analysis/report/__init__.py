"""The monthly report: `runner` checks the parameters, runs the notebooks with papermill and
publishes the HTML pages and the index; `pages` is what each notebook step shows.
"""
