"""The keyword-spotting application: audio to Xylo (the ``[kws]`` extra).

- ``audio``: the Xylo-style audio front-end (filter bank → input events);
- ``audio_folder``: reading audio files and class folders;
- ``data``: synthetic keyword sets and audio-folder event sets;
- ``speech_commands``: Google Speech Commands trees (official split, ``_unknown_``,
  ``_silence_``);
- ``spike_files``: SHD/SSC HDF5 spike files, binned into events;
- ``training``: training (resumable, stopped on divergence), evaluation (float and on the
  chip's simulation);
- ``checkpoint``: a trained network on disk, and every way a file can fail to be one;
- ``run_folder``: the folder a run writes (locked, atomic, resumable);
- ``detect``: streaming keyword detection in long recordings;
- ``detection_scores``: detections against a recording's known words (recall, false alarms
  per hour, the DET curve);
- ``reports``, ``plots``: evaluation reports and the PNG figures of a run;
- ``options``: the commands' typed settings (no extra needed: the CLI imports it);
- ``data_sources``: where a run's clips come from, and the held-out set ``eval`` remakes;
- ``runs``: device and backend, summaries and headlines, the long-clip run;
- ``training_run``: the train/demo run, saved after every epoch for ``--resume``;
- ``commands``: what ``synnet-triton`` demo, train, eval and detect do.

Nothing is imported here, so ``synnet_triton.kws.options`` loads without the extra.
"""
