// SiftIndex: placeholder until the stage lands.
