# A template for the activity tests: one agent and one app, as the emulator's test workspaces have.
terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
}
