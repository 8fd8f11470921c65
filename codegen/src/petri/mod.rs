//! The Petri net of a registry: construction with AND semantics, a linear-time structural
//! soundness check, and the token game (docs/petri-net.md).
//!
//! One place per task (it carries the `logica`), a start and an end transition per task, one
//! condition place per dependency edge. Where a condition place is the only output of its
//! producer and the only input of its consumer, the two transitions and the place merge into
//! one transition, so a chain reads `start -> T -> task1 -> T -> task2 -> ... -> end`. A fork
//! puts a token on every branch and a join waits for all of them: unlike the seed's "one
//! transition per edge", which turns a fork into an either/or choice.

use crate::model::Model;

/// What a place stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    /// The source: one token at the start.
    Start,
    /// The sink: one token when every task has run.
    End,
    /// A task: a token here means the task runs (its `logica`).
    Task(usize),
    /// A dependency edge: `from` finished, `to` may start once all its conditions hold.
    Condition {
        /// The task that finishes (none for the start).
        from: Option<usize>,
        /// The task that may start (none for the end).
        to: Option<usize>,
    },
}

#[derive(Debug, Clone, PartialEq)]
/// A place of the net.
pub struct Place {
    /// `P<n>`, unique in the net.
    pub id: String,
    /// The task's name for a task place; a short label otherwise.
    pub name: String,
    /// What it stands for.
    pub kind: PlaceKind,
    /// Tokens at the start.
    pub tokens: u32,
    /// Column (the longest path from the start), in drawing units.
    pub x: f64,
    /// Row, in drawing units.
    pub y: f64,
}

#[derive(Debug, Clone, PartialEq)]
/// A transition of the net.
pub struct Transition {
    /// `T<n>`, unique in the net.
    pub id: String,
    /// The tasks it starts or ends.
    pub name: String,
    /// Column, in drawing units.
    pub x: f64,
    /// Row, in drawing units.
    pub y: f64,
}

/// An arc joins a place and a transition, in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arc {
    /// From a place (by index) to a transition.
    PlaceToTransition {
        /// Index into [`Net::places`].
        place: usize,
        /// Index into [`Net::transitions`].
        transition: usize,
    },
    /// From a transition to a place (by index).
    TransitionToPlace {
        /// Index into [`Net::transitions`].
        transition: usize,
        /// Index into [`Net::places`].
        place: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
/// A place/transition net built from a model.
pub struct Net {
    /// The registry's name.
    pub name: String,
    /// Its places.
    pub places: Vec<Place>,
    /// Its transitions.
    pub transitions: Vec<Transition>,
    /// Its arcs.
    pub arcs: Vec<Arc>,
}

/// Horizontal and vertical distance between layers and rows, in drawing units.
const LAYER_GAP: f64 = 200.0;
const ROW_GAP: f64 = 110.0;

/// Builds the net of a checked model.
pub fn build(model: &Model) -> Net {
    let n = model.tasks.len();
    let mut b = Builder::default();
    let start = b.place("start", PlaceKind::Start, 1);
    let end = b.place("end", PlaceKind::End, 0);
    let task_places: Vec<usize> = model
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| b.place(&t.name, PlaceKind::Task(i), 0))
        .collect();
    // Per task: its start transition (waits for every dependency) and end transition.
    let starts: Vec<usize> = model
        .tasks
        .iter()
        .map(|t| b.transition(&format!("start {}", t.name)))
        .collect();
    let ends: Vec<usize> = model
        .tasks
        .iter()
        .map(|t| b.transition(&format!("end {}", t.name)))
        .collect();
    for i in 0..n {
        b.arc(Arc::TransitionToPlace {
            transition: starts[i],
            place: task_places[i],
        });
        b.arc(Arc::PlaceToTransition {
            place: task_places[i],
            transition: ends[i],
        });
    }
    let mut has_dependants = vec![false; n];
    for (to, task) in model.tasks.iter().enumerate() {
        for &from in &task.depends_on {
            has_dependants[from] = true;
            let c = b.place(
                &format!("{} done for {}", model.tasks[from].name, task.name),
                PlaceKind::Condition {
                    from: Some(from),
                    to: Some(to),
                },
                0,
            );
            b.arc(Arc::TransitionToPlace {
                transition: ends[from],
                place: c,
            });
            b.arc(Arc::PlaceToTransition {
                place: c,
                transition: starts[to],
            });
        }
    }
    // The source forks to every task without dependencies; every task without dependants
    // joins into the sink.
    let fork = b.transition("begin");
    b.arc(Arc::PlaceToTransition {
        place: start,
        transition: fork,
    });
    let join = b.transition("finish");
    b.arc(Arc::TransitionToPlace {
        transition: join,
        place: end,
    });
    if n == 0 {
        // An empty registry's net goes straight from the source to the sink.
        let c = b.place(
            "no task",
            PlaceKind::Condition {
                from: None,
                to: None,
            },
            0,
        );
        b.arc(Arc::TransitionToPlace {
            transition: fork,
            place: c,
        });
        b.arc(Arc::PlaceToTransition {
            place: c,
            transition: join,
        });
    }
    for (i, task) in model.tasks.iter().enumerate() {
        if task.depends_on.is_empty() {
            let c = b.place(
                &format!("ready for {}", task.name),
                PlaceKind::Condition {
                    from: None,
                    to: Some(i),
                },
                0,
            );
            b.arc(Arc::TransitionToPlace {
                transition: fork,
                place: c,
            });
            b.arc(Arc::PlaceToTransition {
                place: c,
                transition: starts[i],
            });
        }
        if !has_dependants[i] {
            let c = b.place(
                &format!("{} done", task.name),
                PlaceKind::Condition {
                    from: Some(i),
                    to: None,
                },
                0,
            );
            b.arc(Arc::TransitionToPlace {
                transition: ends[i],
                place: c,
            });
            b.arc(Arc::PlaceToTransition {
                place: c,
                transition: join,
            });
        }
    }
    let mut net = b.merge_and_finish(&model.name);
    layout(&mut net);
    net
}

#[derive(Default)]
struct Builder {
    places: Vec<(String, PlaceKind, u32)>,
    transitions: Vec<String>,
    arcs: Vec<Arc>,
}

impl Builder {
    fn place(&mut self, name: &str, kind: PlaceKind, tokens: u32) -> usize {
        self.places.push((name.to_owned(), kind, tokens));
        self.places.len() - 1
    }

    fn transition(&mut self, name: &str) -> usize {
        self.transitions.push(name.to_owned());
        self.transitions.len() - 1
    }

    fn arc(&mut self, arc: Arc) {
        self.arcs.push(arc);
    }

    /// Merges `A -> c -> B` into one transition wherever `c` is `A`'s only output and `B`'s
    /// only input (and a condition place), then numbers what is left.
    fn merge_and_finish(self, name: &str) -> Net {
        let np = self.places.len();
        let nt = self.transitions.len();
        let mut inputs: Vec<Vec<usize>> = vec![Vec::new(); nt];
        let mut outputs: Vec<Vec<usize>> = vec![Vec::new(); nt];
        let mut producer: Vec<Vec<usize>> = vec![Vec::new(); np];
        let mut consumer: Vec<Vec<usize>> = vec![Vec::new(); np];
        for arc in &self.arcs {
            match *arc {
                Arc::PlaceToTransition { place, transition } => {
                    inputs[transition].push(place);
                    consumer[place].push(transition);
                }
                Arc::TransitionToPlace { transition, place } => {
                    outputs[transition].push(place);
                    producer[place].push(transition);
                }
            }
        }
        // Union-find over transitions: merged ones share a representative.
        let mut parent: Vec<usize> = (0..nt).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let mut removed = vec![false; np];
        for p in 0..np {
            let is_condition = matches!(self.places[p].1, PlaceKind::Condition { .. });
            if !is_condition || producer[p].len() != 1 || consumer[p].len() != 1 {
                continue;
            }
            let (a, c) = (producer[p][0], consumer[p][0]);
            if outputs[a].len() == 1 && inputs[c].len() == 1 {
                removed[p] = true;
                let (ra, rc) = (find(&mut parent, a), find(&mut parent, c));
                parent[rc] = ra;
            }
        }
        // Number the places and transitions that remain, in creation order.
        let mut place_ids = vec![usize::MAX; np];
        let mut places = Vec::new();
        for (p, (pname, kind, tokens)) in self.places.into_iter().enumerate() {
            if !removed[p] {
                place_ids[p] = places.len();
                places.push(Place {
                    id: format!("P{}", places.len()),
                    name: pname,
                    kind,
                    tokens,
                    x: 0.0,
                    y: 0.0,
                });
            }
        }
        let mut transition_ids = vec![usize::MAX; nt];
        let mut transitions = Vec::new();
        for t in 0..nt {
            let root = find(&mut parent, t);
            if transition_ids[root] == usize::MAX {
                transition_ids[root] = transitions.len();
                transitions.push(Transition {
                    id: format!("T{}", transitions.len()),
                    name: self.transitions[root].clone(),
                    x: 0.0,
                    y: 0.0,
                });
            }
            transition_ids[t] = transition_ids[root];
        }
        // A merged transition is named after the step it makes.
        let mut names: Vec<Vec<&str>> = vec![Vec::new(); transitions.len()];
        for t in 0..nt {
            names[transition_ids[t]].push(&self.transitions[t]);
        }
        for (t, parts) in names.iter().enumerate() {
            transitions[t].name = parts.join(" / ");
        }
        let arcs = self
            .arcs
            .iter()
            .filter_map(|arc| match *arc {
                Arc::PlaceToTransition { place, transition } if !removed[place] => {
                    Some(Arc::PlaceToTransition {
                        place: place_ids[place],
                        transition: transition_ids[transition],
                    })
                }
                Arc::TransitionToPlace { transition, place } if !removed[place] => {
                    Some(Arc::TransitionToPlace {
                        transition: transition_ids[transition],
                        place: place_ids[place],
                    })
                }
                _ => None,
            })
            .collect();
        Net {
            name: name.to_owned(),
            places,
            transitions,
            arcs,
        }
    }
}

/// Coordinates from the longest path from the source: places and transitions alternate in
/// columns; rows within a column in creation order (file order).
fn layout(net: &mut Net) {
    let (np, nt) = (net.places.len(), net.transitions.len());
    // Node numbering: places 0..np, transitions np..np+nt.
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); np + nt];
    let mut indeg = vec![0usize; np + nt];
    for arc in &net.arcs {
        let (a, b) = match *arc {
            Arc::PlaceToTransition { place, transition } => (place, np + transition),
            Arc::TransitionToPlace { transition, place } => (np + transition, place),
        };
        succ[a].push(b);
        indeg[b] += 1;
    }
    let mut depth = vec![0usize; np + nt];
    let mut queue: std::collections::VecDeque<usize> =
        (0..np + nt).filter(|&v| indeg[v] == 0).collect();
    while let Some(v) = queue.pop_front() {
        for &w in &succ[v] {
            depth[w] = depth[w].max(depth[v] + 1);
            indeg[w] -= 1;
            if indeg[w] == 0 {
                queue.push_back(w);
            }
        }
    }
    let mut rows = std::collections::HashMap::<usize, usize>::new();
    let mut position = |v: usize| {
        let row = rows.entry(depth[v]).or_insert(0);
        let at = (
            100.0 + depth[v] as f64 * LAYER_GAP / 2.0,
            80.0 + *row as f64 * ROW_GAP,
        );
        *row += 1;
        at
    };
    for p in 0..np {
        (net.places[p].x, net.places[p].y) = position(p);
    }
    for t in 0..nt {
        (net.transitions[t].x, net.transitions[t].y) = position(np + t);
    }
}

/// Why a net is not a sound workflow net.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsound(pub Vec<String>);

impl std::fmt::Display for Unsound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

/// The structural check, in linear time: one source place (the only marked one, one token) and
/// one sink; every other place with exactly one producer and one consumer (a marked graph);
/// every transition with inputs and outputs; no cycle; every node on a source-to-sink path.
/// A net that passes is an acyclic marked graph workflow net: sound, each transition fires
/// exactly once.
pub fn check(net: &Net) -> Result<(), Unsound> {
    let (np, nt) = (net.places.len(), net.transitions.len());
    let mut problems = Vec::new();
    let mut producers = vec![0usize; np];
    let mut consumers = vec![0usize; np];
    let mut t_in = vec![0usize; nt];
    let mut t_out = vec![0usize; nt];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); np + nt];
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); np + nt];
    for arc in &net.arcs {
        let (a, b) = match *arc {
            Arc::PlaceToTransition { place, transition } => {
                consumers[place] += 1;
                t_in[transition] += 1;
                (place, np + transition)
            }
            Arc::TransitionToPlace { transition, place } => {
                producers[place] += 1;
                t_out[transition] += 1;
                (np + transition, place)
            }
        };
        succ[a].push(b);
        pred[b].push(a);
    }
    let sources: Vec<usize> = (0..np).filter(|&p| producers[p] == 0).collect();
    let sinks: Vec<usize> = (0..np).filter(|&p| consumers[p] == 0).collect();
    if sources.len() != 1 {
        problems.push(format!("{} source places, expected one", sources.len()));
    }
    if sinks.len() != 1 {
        problems.push(format!("{} sink places, expected one", sinks.len()));
    }
    for (p, place) in net.places.iter().enumerate() {
        let is_source = sources == [p];
        let is_sink = sinks == [p];
        if !is_source && producers[p] > 1 {
            problems.push(format!("place {} has {} producers", place.id, producers[p]));
        }
        if !is_sink && consumers[p] > 1 {
            problems.push(format!(
                "place {} has {} consumers (a choice)",
                place.id, consumers[p]
            ));
        }
        let expected = u32::from(is_source);
        if place.tokens != expected {
            problems.push(format!(
                "place {} starts with {} tokens",
                place.id, place.tokens
            ));
        }
    }
    for (t, transition) in net.transitions.iter().enumerate() {
        if t_in[t] == 0 || t_out[t] == 0 {
            problems.push(format!(
                "transition {} lacks an input or an output",
                transition.id
            ));
        }
    }
    // Acyclic: Kahn's algorithm must visit every node.
    let mut indeg: Vec<usize> = pred.iter().map(Vec::len).collect();
    let mut stack: Vec<usize> = (0..np + nt).filter(|&v| indeg[v] == 0).collect();
    let mut visited = 0;
    while let Some(v) = stack.pop() {
        visited += 1;
        for &w in &succ[v] {
            indeg[w] -= 1;
            if indeg[w] == 0 {
                stack.push(w);
            }
        }
    }
    if visited != np + nt {
        problems.push("the net has a cycle".to_owned());
    }
    // Every node on a source-to-sink path.
    if let ([source], [sink]) = (sources.as_slice(), sinks.as_slice()) {
        let forward = reach(*source, &succ);
        let backward = reach(*sink, &pred);
        for v in 0..np + nt {
            if !forward[v] || !backward[v] {
                let id = if v < np {
                    &net.places[v].id
                } else {
                    &net.transitions[v - np].id
                };
                problems.push(format!("{id} is not on a path from the source to the sink"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Unsound(problems))
    }
}

fn reach(from: usize, next: &[Vec<usize>]) -> Vec<bool> {
    let mut seen = vec![false; next.len()];
    let mut stack = vec![from];
    seen[from] = true;
    while let Some(v) = stack.pop() {
        for &w in &next[v] {
            if !seen[w] {
                seen[w] = true;
                stack.push(w);
            }
        }
    }
    seen
}

/// The token game from the initial marking: fires enabled transitions until none is. Returns
/// how often each transition fired and the final marking.
pub fn simulate(net: &Net) -> (Vec<u32>, Vec<u32>) {
    let (np, nt) = (net.places.len(), net.transitions.len());
    let mut marking: Vec<u32> = net.places.iter().map(|p| p.tokens).collect();
    let mut inputs: Vec<Vec<usize>> = vec![Vec::new(); nt];
    let mut outputs: Vec<Vec<usize>> = vec![Vec::new(); nt];
    for arc in &net.arcs {
        match *arc {
            Arc::PlaceToTransition { place, transition } => inputs[transition].push(place),
            Arc::TransitionToPlace { transition, place } => outputs[transition].push(place),
        }
    }
    let mut fired = vec![0u32; nt];
    // Bounded: an acyclic net fires each transition at most once per token.
    for _ in 0..=(np + nt) * 2 {
        let Some(t) =
            (0..nt).find(|&t| !inputs[t].is_empty() && inputs[t].iter().all(|&p| marking[p] > 0))
        else {
            break;
        };
        for &p in &inputs[t] {
            marking[p] -= 1;
        }
        for &p in &outputs[t] {
            marking[p] += 1;
        }
        fired[t] += 1;
    }
    (fired, marking)
}
