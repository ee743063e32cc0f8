// SiftKernels: placeholder until the stage lands.
