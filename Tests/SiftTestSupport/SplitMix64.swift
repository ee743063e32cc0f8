// Generated test inputs use SiftCore's seeded generator: the same sequence on every run and platform.
@_exported import struct SiftCore.SplitMix64
