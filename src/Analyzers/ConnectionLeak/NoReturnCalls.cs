// Calls that never return: a method marked [DoesNotReturn] (ExceptionDispatchInfo.Throw, the code's own throw
// helpers), one given the constant its [DoesNotReturnIf] parameter names, and Environment.FailFast. Such a call ends
// its path like a 'throw' (FailFast ends the process, and no handler runs): nothing after it runs on that path.
using System.Collections.Concurrent;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>How a call leaves the path it is on.</summary>
internal enum CallEnd : byte
{
    /// <summary>The call may return: the path goes on after it.</summary>
    Returns,

    /// <summary>The call always throws: the exception goes to the handlers around it, and the path ends
    /// there.</summary>
    Throws,

    /// <summary>The call ends the process (<c>Environment.FailFast</c>): no handler, no <c>finally</c> runs.</summary>
    EndsProcess,
}

/// <summary>
/// The methods that never return, read once per method from their attributes (by name, so that the attributes a project
/// declares for itself when its target framework lacks them count too). A <c>[Conditional]</c> method, whose calls
/// the compiler removes where its symbol is not defined (<c>Debug.Fail</c>), may return.
/// </summary>
internal sealed class NoReturnCalls
{
    private readonly ConcurrentDictionary<IMethodSymbol, Shape> _shapes = new(SymbolEqualityComparer.Default);

    /// <summary>How <paramref name="invocation"/> leaves its path; <paramref name="analysis"/> reads constant
    /// arguments.</summary>
    public CallEnd Of(IInvocationOperation invocation, LeakFlowAnalysis? analysis)
    {
        var shape = _shapes.GetOrAdd(invocation.TargetMethod.OriginalDefinition, Read);
        if (shape.End != CallEnd.Returns || shape.Conditions.IsDefaultOrEmpty)
        {
            return shape.End;
        }

        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter is not { } parameter)
            {
                continue;
            }

            foreach (var (ordinal, value) in shape.Conditions)
            {
                if (ordinal == parameter.Ordinal && ConstantConditions.Outcome(analysis, argument.Value) == value)
                {
                    // 'Guard.ThrowIf(true, ...)': the argument is the value that never returns.
                    return CallEnd.Throws;
                }
            }
        }

        return CallEnd.Returns;
    }

    private static Shape Read(IMethodSymbol method)
    {
        var end = CallEnd.Returns;
        foreach (var attribute in method.GetAttributes())
        {
            if (attribute.AttributeClass is { Name: "ConditionalAttribute" } conditional && IsNamespace(conditional.ContainingNamespace, "Diagnostics"))
            {
                return default;
            }

            if (attribute.AttributeClass is { Name: "DoesNotReturnAttribute" } doesNotReturn && IsCodeAnalysis(doesNotReturn.ContainingNamespace))
            {
                end = CallEnd.Throws;
            }
        }

        if (method is { Name: "FailFast", IsStatic: true, ContainingType: { Name: "Environment" } environment } && IsNamespace(environment.ContainingNamespace, null))
        {
            return new Shape(CallEnd.EndsProcess, default);
        }

        if (end != CallEnd.Returns)
        {
            return new Shape(end, default);
        }

        ImmutableArray<(int, bool)>.Builder? conditions = null;
        foreach (var parameter in method.Parameters)
        {
            foreach (var attribute in parameter.GetAttributes())
            {
                if (attribute.AttributeClass is { Name: "DoesNotReturnIfAttribute" } doesNotReturnIf && IsCodeAnalysis(doesNotReturnIf.ContainingNamespace)
                    && attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is bool value)
                {
                    (conditions ??= ImmutableArray.CreateBuilder<(int, bool)>()).Add((parameter.Ordinal, value));
                }
            }
        }

        return new Shape(CallEnd.Returns, conditions?.ToImmutable() ?? default);
    }

    /// <summary>System.Diagnostics.CodeAnalysis.</summary>
    private static bool IsCodeAnalysis(INamespaceSymbol? ns) =>
        ns is { Name: "CodeAnalysis" } && IsNamespace(ns.ContainingNamespace, "Diagnostics");

    /// <summary>Is <paramref name="ns"/> System.<paramref name="name"/> (System itself when <paramref name="name"/> is
    /// null)?</summary>
    private static bool IsNamespace(INamespaceSymbol? ns, string? name)
    {
        if (name is not null)
        {
            if (ns is null || ns.Name != name)
            {
                return false;
            }

            ns = ns.ContainingNamespace;
        }

        return ns is { Name: "System", ContainingNamespace.IsGlobalNamespace: true };
    }

    /// <summary>What a method's attributes say: whether it never returns, and the bool parameters that decide
    /// it.</summary>
    private readonly struct Shape
    {
        public Shape(CallEnd end, ImmutableArray<(int Ordinal, bool Value)> conditions)
        {
            End = end;
            Conditions = conditions;
        }

        public CallEnd End { get; }

        public ImmutableArray<(int Ordinal, bool Value)> Conditions { get; }
    }
}
