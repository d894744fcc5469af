using Xunit.Abstractions;
using Xunit.Sdk;

namespace Actorvisor.Kvm.Tests;

/// <summary>Which tests of Actorvisor.Hardware.Tests and Actorvisor.Actors.Tests exercise KVM, and so belong in the KVM run.</summary>
public static class KvmTestSelection
{
    /// <summary>
    /// The tests `dotnet test` skips where /dev/kvm is unusable: the KVM subclasses of accelerator-parameterised
    /// suites (a class named after KVM that reports its accelerator's availability, e.g. KvmMachineEndToEndTests)
    /// and tests marked [KvmFact].
    /// </summary>
    public static bool NeedsKvm(ITestCase test)
    {
        var method = test.TestMethod;
        var type = method.TestClass.Class.ToRuntimeType();
        bool kvmSubclass = type is not null && type.Name.Contains("Kvm", StringComparison.Ordinal)
            && typeof(Actorvisor.Hardware.Tests.Machines.IAcceleratorAvailability).IsAssignableFrom(type);
        return kvmSubclass
            || method.Method.GetCustomAttributes(typeof(Actorvisor.Hardware.Tests.Lazy.KvmFactAttribute).AssemblyQualifiedName).Any();
    }

    /// <summary>
    /// The tests of Actorvisor.Actors.Tests marked [KvmOnlyFact]: the actor runtime on real KVM, skipped by `dotnet test`
    /// where KVM is not hardware-assisted. (The rest of that assembly runs on the software accelerator under `dotnet test`.)
    /// </summary>
    public static bool ActorsNeedKvm(ITestCase test) =>
        test.TestMethod.Method.GetCustomAttributes(typeof(Actorvisor.Actors.Tests.AsyncPf.KvmOnlyFactAttribute).AssemblyQualifiedName).Any();
}
