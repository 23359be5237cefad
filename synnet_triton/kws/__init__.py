"""The keyword-spotting application: audio to Xylo (the ``[kws]`` extra).

- ``audio``: the Xylo-style audio front-end (filter bank → input events);
- ``audio_folder``: reading audio files and class folders;
- ``data``: synthetic keyword sets and audio-folder event sets;
- ``training``: training, evaluation (float and on the chip's simulation), checkpoints;
- ``detect``: streaming keyword detection in long recordings;
- ``reports``, ``plots``: evaluation reports and the PNG figures of a run;
- ``options``: the commands' typed settings (no extra needed: the CLI imports it);
- ``runs``: the training and long-clip runs behind the commands, summaries;
- ``commands``: what ``synnet-triton`` demo, train, eval and detect do.

Nothing is imported here, so ``synnet_triton.kws.options`` loads without the extra.
"""
