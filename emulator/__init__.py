"""camkeep emulator: emulated ONVIF Profile S/G cameras (RTSP, ONVIF, WS-Discovery).

In-process use (tests, benchmarks)::

    running = await start_emulator(EmulatorConfig(cameras=4, rtsp_port=0, ...))
    ...
    await running.close()
"""

from emulator.runner import EmulatorConfig, RunningEmulator, start_emulator

__all__ = ["EmulatorConfig", "RunningEmulator", "start_emulator"]
