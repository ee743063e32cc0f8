// SiftModels: placeholder until the stage lands.
