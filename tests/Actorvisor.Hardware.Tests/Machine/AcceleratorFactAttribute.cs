using Xunit.Abstractions;
using Xunit.Sdk;

namespace Actorvisor.Hardware.Tests.Machines;

/// <summary>
/// Implemented (as a static member) by test classes that need an accelerator which may be missing on the
/// machine running the tests, such as KVM on a build VM without /dev/kvm.
/// </summary>
public interface IAcceleratorAvailability
{
    /// <summary>Null when the accelerator is usable; otherwise why its tests are skipped.</summary>
    static abstract string? UnavailableReason { get; }
}

/// <summary>
/// A [Fact] in an accelerator-parameterised test class: skipped, with the reason, when the concrete test class
/// implements <see cref="IAcceleratorAvailability"/> and reports its accelerator unavailable. xunit 2 has no
/// runtime skip, so the decision is made at discovery.
/// </summary>
[XunitTestCaseDiscoverer("Actorvisor.Hardware.Tests.Machines.AcceleratorFactDiscoverer", "Actorvisor.Hardware.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class AcceleratorFactAttribute : FactAttribute;

/// <summary>The [Theory] counterpart of <see cref="AcceleratorFactAttribute"/>.</summary>
[XunitTestCaseDiscoverer("Actorvisor.Hardware.Tests.Machines.AcceleratorTheoryDiscoverer", "Actorvisor.Hardware.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class AcceleratorTheoryAttribute : TheoryAttribute;

internal static class AcceleratorSkip
{
    public static string? ReasonFor(ITestMethod method)
    {
        var type = method.TestClass.Class.ToRuntimeType();
        if (type is null || !typeof(IAcceleratorAvailability).IsAssignableFrom(type)) return null;
        var property = type.GetProperty(nameof(IAcceleratorAvailability.UnavailableReason),
            System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static);
        return property?.GetValue(null) as string;
    }
}

public sealed class AcceleratorFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        AcceleratorSkip.ReasonFor(testMethod) is { } reason
            ? [new SkippedTestCase(reason, DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod)]
            : base.Discover(discoveryOptions, testMethod, factAttribute);
}

public sealed class AcceleratorTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        AcceleratorSkip.ReasonFor(testMethod) is { } reason
            ? [new SkippedTestCase(reason, DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod)]
            : base.Discover(discoveryOptions, testMethod, theoryAttribute);
}

/// <summary>A test case reported as skipped with a reason decided at discovery.</summary>
public sealed class SkippedTestCase : XunitTestCase
{
    private string _reason = "";

    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public SkippedTestCase() { }

    public SkippedTestCase(string reason, IMessageSink sink, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod method)
        : base(sink, display, options, method)
    {
        _reason = reason;
    }

    // Report the skip from the runner: GetSkipReason may be consulted before the reason field is set.
    public override Task<RunSummary> RunAsync(IMessageSink diagnosticMessageSink, IMessageBus messageBus, object[] constructorArguments,
        ExceptionAggregator aggregator, CancellationTokenSource cancellationTokenSource) =>
        new XunitTestCaseRunner(this, DisplayName, _reason, constructorArguments, TestMethodArguments, messageBus, aggregator, cancellationTokenSource).RunAsync();

    public override void Serialize(IXunitSerializationInfo data)
    {
        base.Serialize(data);
        data.AddValue("SkipReasonText", _reason);
    }

    public override void Deserialize(IXunitSerializationInfo data)
    {
        base.Deserialize(data);
        _reason = data.GetValue<string>("SkipReasonText");
    }
}
