"""Reading device telemetry: npu-smi, nvidia-smi, host CPU and memory."""
