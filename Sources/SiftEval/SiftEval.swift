// SiftEval: placeholder until the stage lands.
