"""The keyword-spotting application: audio to Xylo.

- ``audio``: the Xylo-style audio front-end (filter bank → input events);
- ``data``: synthetic keyword sets and WAV-folder data sets;
- ``training``: training, evaluation (float and Xylo-parity) and checkpoints;
- ``plots``: the PNG figures of a run;
- ``cli``: the ``synnet-triton`` command.
"""
