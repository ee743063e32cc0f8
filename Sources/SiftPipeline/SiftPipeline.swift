// SiftPipeline: placeholder until the stage lands.
