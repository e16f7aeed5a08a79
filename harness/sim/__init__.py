"""The simulated device: a separate process that renders a TV app, streams it like an HDMI-to-IP
encoder (MPEG-TS over loopback TCP or UDP), takes keys over Roku ECP, an lircd socket or an iTach, and has a serial console.

Modules: :mod:`~harness.sim.app` (the state machine, no I/O), :mod:`~harness.sim.render`
(pictures), :mod:`~harness.sim.audio` (sound), :mod:`~harness.sim.streamer` (encode and send),
:mod:`~harness.sim.ecp_server`, :mod:`~harness.sim.lirc_server`, :mod:`~harness.sim.itach_server`, :mod:`~harness.sim.console` and :mod:`~harness.sim.server`
(``python -m harness.sim.server devices/sim.yaml``). Nothing is imported here eagerly.
"""
