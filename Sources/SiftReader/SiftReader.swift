// SiftReader: placeholder until the stage lands.
