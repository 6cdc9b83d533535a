# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/coder/coder" {
  version     = "2.5.3"
  constraints = "~> 2.5"
  hashes = [
    "h1:3Xq5nMvUhZmHh3LhZ7gA3bHKbS4y3iVq1q1b3I3aJwM=",
  ]
}

provider "registry.terraform.io/hashicorp/kubernetes" {
  version     = "2.36.0"
  constraints = "~> 2.36"
  hashes = [
    "h1:vdY0sxo7ahwuz/y7flXTE04tSwn0Zhxyg6n62aTmAHI=",
  ]
}
