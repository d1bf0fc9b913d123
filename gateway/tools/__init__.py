"""Tools the agent can call: declared in config, validated, run over HTTP (or in process), and
the built-in call actions (transfer, hang up). Only what is declared can run; see
:mod:`gateway.tools.toolbox` for the limits every call goes through."""
