using System;

namespace TenantDbGuard;

/// <summary>
/// Marks a method whose result is a connection (or lease) that the caller must release on every path.
/// The TenantDbGuard analyzers (rule TDG001) recognise it by its full name, so a project may also declare its own
/// <c>TenantDbGuard.AcquiresConnectionAttribute</c> instead of referencing this assembly.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.ReturnValue, Inherited = true, AllowMultiple = false)]
public sealed class AcquiresConnectionAttribute : Attribute
{
}
