using Actorvisor.Kvm.Tests;
using Actorvisor.Kvm.Tests.Runner;

// Runs the KVM tests in-process and prints one KVMTEST line per result (see Runner/ResultLine):
// every test of this assembly, and the tests of Actorvisor.Hardware.Tests and Actorvisor.Actors.Tests that need KVM.
return InProcessRunner.Run(
    [
        new TestSuite(typeof(KvmFdTests).Assembly, _ => true),
        new TestSuite(typeof(Actorvisor.Hardware.Tests.Machines.KvmMachineEndToEndTests).Assembly, KvmTestSelection.NeedsKvm),
        new TestSuite(typeof(Actorvisor.Actors.Tests.AsyncPf.KvmOnlyFactAttribute).Assembly, KvmTestSelection.ActorsNeedKvm),
    ],
    args, Console.Out);
