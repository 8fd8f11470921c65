//! The agents each task names, and the order the tasks run in: a topological order that keeps
//! file order among ties, or every cycle reported with its path.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::Diagnostic;
use crate::model::{Agent, Task, TaskId};
use crate::suggest::did_you_mean;

use super::{Edge, Resolver, is_python_identifier, value_or_empty};

/// Tasks named in a cycle's message at most, and reads shown with their excerpt.
const CYCLE_NAMES_SHOWN: usize = 12;
const CYCLE_LABELS_SHOWN: usize = 8;

impl Resolver<'_, '_> {
    pub(super) fn agents(&mut self) -> Vec<Agent> {
        let Some(agents) = self.cx.agents else {
            return Vec::new();
        };
        for task in &self.file.tasks {
            let Some(agent) = &task.agent else { continue };
            if agents.agents.iter().any(|a| a.name.value == agent.value) {
                continue;
            }
            let names = agents.agents.iter().map(|a| a.name.value.as_str());
            let suggestion = did_you_mean(&agent.value, names);
            // CrewAI looks the name up among the crew's `@agent` methods, which need not be
            // agents.yaml's keys: a name code could define is only worth a warning; one no
            // method can have (a `>` scalar's trailing newline, a space) is a KeyError there.
            let (diagnostic, label, help) = if is_python_identifier(&agent.value) {
                (
                    Diagnostic::warning(format!(
                        "task `{}` names agent `{}`, which agents.yaml does not define: the crew's code must supply it{suggestion}",
                        task.name.value, agent.value,
                    )),
                    "not in agents.yaml",
                    "define it in agents.yaml with `role`, `goal` and `backstory`, or supply it in code",
                )
            } else {
                (
                    Diagnostic::error(format!(
                        "task `{}` names agent {:?}, which cannot be an agent's name{suggestion}",
                        task.name.value, agent.value,
                    )),
                    "not a name",
                    "an agent's name is an identifier; a `>` or `|` block adds a trailing newline: write the name on the key's line",
                )
            };
            self.diags.push(diagnostic.at(agent.span, label).help(help));
        }
        agents
            .agents
            .iter()
            .map(|a| Agent {
                name: a.name.value.clone(),
                role: value_or_empty(&a.role),
                goal: value_or_empty(&a.goal),
                backstory: value_or_empty(&a.backstory),
                tools: a.tools.iter().map(|t| t.value.clone()).collect(),
                max_iter: a.max_iter,
                llm: a
                    .llm
                    .as_ref()
                    .map(|l| l.value.trim().to_owned())
                    .filter(|l| !l.is_empty()),
                output_mode: a.output_mode.as_ref().map(|m| m.value.clone()),
            })
            .collect()
    }

    /// A topological order (ties keep file order), or the cycles reported.
    pub(super) fn order(&mut self, tasks: &[Task]) -> Option<Vec<TaskId>> {
        let n = tasks.len();
        let mut graph: DiGraph<TaskId, usize> = DiGraph::with_capacity(n, self.edges.len());
        for id in 0..n {
            graph.add_node(id);
        }
        for (i, e) in self.edges.iter().enumerate() {
            graph.add_edge(NodeIndex::new(e.from), NodeIndex::new(e.to), i);
        }
        // Kosaraju's search, not Tarjan's: petgraph's Tarjan recurses once per task on a
        // chain, and a 20,000-task chain overflowed the stack of `check` (and of the macro).
        let mut cycles: Vec<Vec<NodeIndex>> = petgraph::algo::kosaraju_scc(&graph)
            .into_iter()
            .filter(|scc| scc.len() > 1 || graph.contains_edge(scc[0], scc[0]))
            .collect();
        if !cycles.is_empty() {
            // Reported in file order, whatever order the search found them in.
            cycles.sort_by_key(|scc| scc.iter().min().copied());
            for scc in &cycles {
                self.report_cycle(&graph, scc);
            }
            return None;
        }
        let mut indegree: Vec<usize> = tasks.iter().map(|t| t.depends_on.len()).collect();
        let mut dependants: Vec<Vec<TaskId>> = vec![Vec::new(); n];
        for (id, t) in tasks.iter().enumerate() {
            for &d in &t.depends_on {
                dependants[d].push(id);
            }
        }
        let mut ready: BinaryHeap<Reverse<TaskId>> =
            (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse(id)) = ready.pop() {
            order.push(id);
            for &next in &dependants[id] {
                indegree[next] -= 1;
                if indegree[next] == 0 {
                    ready.push(Reverse(next));
                }
            }
        }
        Some(order)
    }

    /// Why an edge exists, in words (only needed for cycle reports).
    pub(super) fn why(&self, edge: &Edge) -> String {
        let (to, from) = (
            &self.file.tasks[edge.to].name.value,
            &self.file.tasks[edge.from].name.value,
        );
        match edge.field {
            Some(f) => format!(
                "`{to}` reads `{}`, produced by `{from}`",
                self.fields[f].name
            ),
            None => format!("`{to}` has `{from}` in its context"),
        }
    }

    /// Reports one cycle through a strongly connected component, as a path.
    pub(super) fn report_cycle(&mut self, graph: &DiGraph<TaskId, usize>, scc: &[NodeIndex]) {
        let start = *scc.iter().min().expect("an SCC is never empty");
        // Lookups by node, not scans: a cycle through 100,000 tasks is walked in linear time.
        let inside: HashSet<NodeIndex> = scc.iter().copied().collect();
        let mut position: HashMap<NodeIndex, usize> = HashMap::from([(start, 0)]);
        // Walk edges inside the component until a node repeats: that closes a cycle.
        let mut path = vec![start];
        let mut via: Vec<usize> = Vec::new();
        loop {
            let here = *path.last().expect("path starts non-empty");
            let Some(edge) = graph
                .edges(here)
                .filter(|e| inside.contains(&petgraph::visit::EdgeRef::target(e)))
                .min_by_key(petgraph::visit::EdgeRef::target)
            else {
                return;
            };
            let target = petgraph::visit::EdgeRef::target(&edge);
            via.push(*edge.weight());
            if let Some(&pos) = position.get(&target) {
                path.drain(..pos);
                via.drain(..pos);
                path.push(target);
                break;
            }
            position.insert(target, path.len());
            path.push(target);
        }
        let names: Vec<&str> = path
            .iter()
            .map(|&n| self.file.tasks[graph[n]].name.value.as_str())
            .collect();
        let first = &self.edges[via[0]];
        let message = if names.len() == 2 {
            format!("task `{}` depends on itself: {}", names[0], self.why(first))
        } else if names.len() > CYCLE_NAMES_SHOWN {
            let (head, tail) = (CYCLE_NAMES_SHOWN - 3, &names[names.len() - 3..]);
            format!(
                "dependency cycle through {} tasks: {} -> ... ({} more) -> {}",
                names.len() - 1,
                names[..head].join(" -> "),
                names.len() - head - tail.len(),
                tail.join(" -> ")
            )
        } else {
            format!("dependency cycle: {}", names.join(" -> "))
        };
        // Every read of a long cycle, each with its excerpt, would bury the message (and cost
        // a render per task): the first ones say enough.
        let mut d = Diagnostic::error(message).at(first.span, self.why(first));
        for &e in via[1..].iter().take(CYCLE_LABELS_SHOWN - 1) {
            d = d.also(self.edges[e].span, self.why(&self.edges[e]));
        }
        d = d.help("a task can only read what earlier tasks produce; break the cycle by removing one of these reads");
        self.diags.push(d);
    }
}
