// The transfer of assignments: a variable, a flow capture that stands for a variable or a field ('x ??= y'), an out or
// ref parameter, a field of the owner in TDG005's walks, a member of an object being built (a carrier), or anything
// outside the method (a hand-off); and deconstructions, element by element.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>Evaluates assignments and deconstructions for the current path state.</summary>
internal sealed class AssignmentTransfer
{
    private readonly LeakFlowAnalysis _analysis;

    public AssignmentTransfer(LeakFlowAnalysis analysis)
    {
        _analysis = analysis;
    }

    private PathEffects Effects => _analysis.Effects;

    /// <summary>Evaluates what an assignment target reads before the value: the instance of a member, an array and its indices.</summary>
    public void EvaluateTargetParts(IOperation target)
    {
        switch (target)
        {
            case IFieldReferenceOperation field:
                _analysis.Transfer.Evaluate(field.Instance);
                break;
            case IPropertyReferenceOperation property:
                _analysis.Transfer.Evaluate(property.Instance);
                foreach (var argument in property.Arguments)
                {
                    _analysis.Transfer.Evaluate(argument);
                }

                break;
            case IArrayElementReferenceOperation element:
                _analysis.Transfer.Evaluate(element.ArrayReference);
                foreach (var index in element.Indices)
                {
                    _analysis.Transfer.Evaluate(index);
                }

                break;
        }
    }

    /// <summary>Evaluates an assignment; returns whether its value is the followed resource.</summary>
    public bool Evaluate(ISimpleAssignmentOperation assignment)
    {
        var target = assignment.Target;
        EvaluateTargetParts(target);
        var value = _analysis.Transfer.Evaluate(assignment.Value);
        if (target is IFlowCaptureReferenceOperation targetCapture && _analysis.Variables.TryGetCapturedLocation(targetCapture.Id, out var location))
        {
            // The graph captured the variable or location before evaluating the value ('x = a ?? b', '_field ??= b'): it is
            // what is assigned.
            target = location;
        }

        switch (target)
        {
            case ILocalReferenceOperation local:
                _analysis.State = _analysis.Facts.Forget(_analysis.State, local.Local);
                if (local.Local.Type.SpecialType == SpecialType.System_Boolean)
                {
                    _analysis.State = _analysis.Flags.Set(_analysis.State, local.Local, assignment.Value);
                }
                else
                {
                    _analysis.State = _analysis.Nulls.Set(_analysis.State, local.Local, assignment.Value);
                }

                StoreLocal(local.Local, value, assignment);
                break;
            case IParameterReferenceOperation parameter:
                if (parameter.Parameter.RefKind != RefKind.None && _analysis.Observations is null)
                {
                    if (value)
                    {
                        Effects.Escape();
                    }

                    break;
                }

                // For a summary, an out/ref parameter is followed like a local: does it hold the resource at each exit?

                Effects.Store(parameter.Parameter, value, assignment.Value, isCapture: false, assignment);
                break;
            case IFlowCaptureReferenceOperation captureReference:
                Effects.Store(captureReference.Id, value, assignment.Value, isCapture: true, assignment);
                break;
            case IDiscardOperation:
                break;
            case IFieldReferenceOperation { Instance: IInstanceReferenceOperation } ownField when _analysis.OwnerFields:
                Effects.Store(ownField.Field, value, assignment.Value, isCapture: false, assignment);
                break;
            case IPropertyReferenceOperation { Instance: IInstanceReferenceOperation } ownProperty when _analysis.OwnerFields && OwnerWalk.IsAutoProperty(ownProperty.Property):
                Effects.Store(ownProperty.Property, value, assignment.Value, isCapture: false, assignment);
                break;
            case IMemberReferenceOperation { Instance: { } instance } member when value && _analysis.Carriers.StoreIntoMember(member, instance, assignment):
                break;
            case IMemberReferenceOperation { Instance: { } instance } member when !value:
                _analysis.Carriers.ReplaceMember(member, instance);
                break;
            default:
                // A field, property, array element, event or anything else outside the method.
                if (value)
                {
                    Effects.Escape();
                }

                break;
        }

        return value;
    }

    private void StoreLocal(ILocalSymbol local, bool value, ISimpleAssignmentOperation assignment)
    {
        if (!_analysis.OwnLocals.Contains(local) || local.IsRef)
        {
            // A local of an enclosing method (captured by this lambda) or a ref local: the value leaves.
            if (value)
            {
                Effects.Escape();
            }

            return;
        }

        Effects.Store(local, value, assignment.Value, isCapture: false, assignment);
    }

    /// <summary>
    /// <c>var (lease, rows) = (await pool.GetConnectionAsync(), 0)</c>: each element goes to its own variable. A tuple that
    /// is not written out element by element (a method's tuple result) hands the resource to whichever variable; say nothing.
    /// </summary>
    public void EvaluateDeconstruction(IDeconstructionAssignmentOperation deconstruction)
    {
        var targets = TrackedVariables.Unwrap(deconstruction.Target) as ITupleOperation;
        if (targets is not null && TrackedVariables.Unwrap(deconstruction.Value) is ITupleOperation values && values.Elements.Length == targets.Elements.Length)
        {
            var results = new bool[values.Elements.Length];
            for (var i = 0; i < results.Length; i++)
            {
                results[i] = _analysis.Transfer.Evaluate(values.Elements[i]);
            }

            // Every value is read before any target is written: '(a, b) = (b, a)' gives the connection to 'b' before 'a'
            // lets go of it. So the targets that get the resource are written first; a local named twice keeps its last value.
            for (var pass = 0; pass < 2; pass++)
            {
                for (var i = 0; i < results.Length; i++)
                {
                    if (results[i] == (pass == 0) && !WrittenAgainLater(targets, i))
                    {
                        StoreElement(i);
                    }
                }
            }

            return;

            void StoreElement(int i)
            {
                switch (TrackedVariables.Unwrap(targets.Elements[i]))
                {
                    case ILocalReferenceOperation local when _analysis.OwnLocals.Contains(local.Local):
                        if (local.Local.Type.SpecialType == SpecialType.System_Boolean)
                        {
                            _analysis.State = _analysis.Flags.Set(_analysis.State, local.Local, values.Elements[i]);
                        }

                        Effects.Store(local.Local, results[i], values.Elements[i], isCapture: false, deconstruction);
                        break;
                    case IDiscardOperation:
                        break;
                    default:
                        if (results[i])
                        {
                            Effects.Escape();
                        }

                        break;
                }
            }
        }

        if (_analysis.Transfer.Evaluate(deconstruction.Value))
        {
            Effects.Escape();
        }
    }

    /// <summary>Is the local that target <paramref name="index"/> writes written again by a later target (<c>(a, a) = ...</c>)?</summary>
    private static bool WrittenAgainLater(ITupleOperation targets, int index)
    {
        if (TrackedVariables.Unwrap(targets.Elements[index]) is not ILocalReferenceOperation written)
        {
            return false;
        }

        for (var later = index + 1; later < targets.Elements.Length; later++)
        {
            if (TrackedVariables.Unwrap(targets.Elements[later]) is ILocalReferenceOperation again && SymbolEqualityComparer.Default.Equals(written.Local, again.Local))
            {
                return true;
            }
        }

        return false;
    }
}
