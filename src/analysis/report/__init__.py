"""The monthly report. From the top: `runner` runs each stage once per date and the notebooks with
papermill, and publishes the HTML pages and the `index` pages; the notebooks' steps are `pages`,
which read the stage outputs through `context` and `outputs`; `inputs` checks the parameters and
caches the cleaned stations; `display` and `text` are how and in which words things are shown.
"""
