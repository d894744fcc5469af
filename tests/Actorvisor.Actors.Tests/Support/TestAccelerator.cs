using System.Reflection;
using Actorvisor.Hardware.Accel;

namespace Actorvisor.Actors.Tests.Support;

/// <summary>
/// The accelerator the actor tests run real guests on: the software accelerator by default, KVM when
/// ACTORVISOR_TEST_ACCEL=kvm. Found in the Hardware assembly by its kind, so that this suite does not
/// depend on the accelerator's factory shape.
/// </summary>
public static class TestAccelerator
{
    /// <summary>The kind the tests use.</summary>
    public static AcceleratorKind Kind =>
        string.Equals(Environment.GetEnvironmentVariable("ACTORVISOR_TEST_ACCEL"), "kvm", StringComparison.OrdinalIgnoreCase)
            ? AcceleratorKind.Kvm
            : AcceleratorKind.Software;

    /// <summary>Opens a new accelerator of <see cref="Kind"/>.</summary>
    public static IAccelerator Create()
    {
        var assembly = typeof(IAccelerator).Assembly;
        var failures = new List<string>();
        foreach (var type in assembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false, IsPublic: true } && typeof(IAccelerator).IsAssignableFrom(t)))
        {
            foreach (var make in Factories(type))
            {
                IAccelerator? accelerator;
                try
                {
                    accelerator = make();
                }
                catch (Exception e)
                {
                    failures.Add($"{type.Name}: {(e as TargetInvocationException)?.InnerException?.Message ?? e.Message}");
                    continue;
                }
                if (accelerator.Kind == Kind) return accelerator;
                accelerator.Dispose();
                break;
            }
        }
        throw new InvalidOperationException($"no {Kind} accelerator in {assembly.GetName().Name} could be opened ({string.Join("; ", failures)})");
    }

    private static IEnumerable<Func<IAccelerator>> Factories(Type type)
    {
        foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Static)
                     .Where(m => typeof(IAccelerator).IsAssignableFrom(m.ReturnType) && m.GetParameters().All(p => p.IsOptional)))
            yield return () => (IAccelerator)m.Invoke(null, m.GetParameters().Select(p => p.DefaultValue).ToArray())!;
        if (type.GetConstructor(Type.EmptyTypes) is { } ctor)
            yield return () => (IAccelerator)ctor.Invoke(null);
    }
}
