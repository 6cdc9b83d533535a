# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/coder/coder" {
  version     = "2.5.3"
  constraints = "~> 2.5"
  hashes = [
    "h1:3Xq5nMvUhZmHh3LhZ7gA3bHKbS4y3iVq1q1b3I3aJwM=",
  ]
}

provider "registry.terraform.io/kreuzwerker/docker" {
  version     = "3.6.2"
  constraints = "~> 3.6"
  hashes = [
    "h1:pYNp9vP3LLy1Jxv9rW0cHcQ3N1ytCm5vJ8l4Jx8m8nE=",
  ]
}
