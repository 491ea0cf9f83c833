package sbom.wheels_test

import data.sbom.wheels

test_gpl_wheel_is_denied if {
	count(wheels.deny) == 1 with input as {"components": [{"purl": "pkg:pypi/foo@1.0", "license": "GPL-3.0-only"}]}
}

test_mit_wheel_passes if {
	count(wheels.deny) == 0 with input as {"components": [{"purl": "pkg:pypi/bar@2.0", "license": "MIT"}]}
}

test_gpu_devices_are_granted if {
	some d in data.sealrun.policy.sandbox.devices
	d.path == "/dev/nvidia0"
}
