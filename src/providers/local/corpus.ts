/**
 * The built-in training text of the local n-gram model, written for this project. Prose passages
 * are excerpts with no learned ending; dialogues end where the assistant's turn ends, which is
 * what lets a chat reply finish on its own. Dialogues use the chat renderer's `User:` /
 * `Assistant:` layout so that chat prompts land in familiar contexts.
 */
export const CORPUS_PROSE: readonly string[] = [
  `A language model is a program that predicts the next piece of text from the text that came before it. It does not look up answers in a table of facts. Instead, it learns which words tend to follow which other words, and it uses those patterns to continue a passage one small step at a time.

The smallest step a model takes is called a token. A token can be a whole word, part of a word, a space followed by a word, or a single mark of punctuation. Counting tokens is how people measure the length of a prompt and the length of a reply, and it is how most services decide what a request costs.

An n-gram model is the simplest kind of language model. It remembers how often each short sequence of tokens appeared in its training text. When it has seen the last three tokens before, it predicts what usually came after them. When it has not, it backs off to the last two tokens, then to the last one, and finally to how common each token is on its own. The result is text that sounds locally plausible even when the whole passage wanders.

Larger models replace the counting with a neural network that has learned from a great deal of text. They can keep track of ideas across many paragraphs, follow instructions, and answer questions. Yet the basic loop is the same: read the context, score every possible next token, choose one, and repeat until the reply is long enough or the model decides that it is finished.

Temperature controls how adventurous the choice is. At a temperature of zero the model always picks the most likely token, so the same prompt gives the same reply every time. At higher temperatures it samples from the distribution, which makes the output more varied and sometimes more surprising. Top p sampling keeps only the most likely tokens whose probabilities add up to the chosen fraction, which trims away the long tail of unlikely choices.`,

  `An application programming interface is a promise between two programs. One side offers a set of requests it understands, and the other side agrees to send requests in that shape. A good interface is small, predictable and well documented, so that a developer can guess how a new endpoint behaves from the endpoints they already know.

Most web APIs speak HTTP and exchange JSON. A client sends a request with a method, a path, some headers and perhaps a body. The server answers with a status code, more headers and a body of its own. A status in the two hundreds means success, a status in the four hundreds means the client made a mistake, and a status in the five hundreds means the server could not do its job.

Errors deserve as much care as successful responses. A clear error says what went wrong, which field was at fault and whether trying again might help. When a service is busy it should say so plainly and suggest when to retry, rather than leaving the client to wait without an answer.

Streaming lets a server send a long answer in pieces as soon as each piece is ready. For a language model this means the first words of a reply can appear on the screen while the rest is still being written. If the client goes away in the middle of a stream, the server should notice quickly and stop the work, because nobody is left to read the result.

Authentication tells the server who is calling, and authorization decides what that caller may do. An API key is a long secret that a client sends with every request. Keys should be kept out of source code, rotated from time to time, and revoked as soon as they are no longer needed.`,

  `The weather is the state of the air around us at a given place and time. It is made of temperature, humidity, wind, cloud and rain, and it changes from hour to hour. Climate is the long pattern behind the weather, the average of many seasons rather than the mood of a single afternoon.

A forecast starts with measurements. Weather stations record the temperature and the pressure of the air, balloons carry instruments high into the sky, and satellites watch the clouds drift across the oceans. Computers then use the laws of physics to estimate how the air will move over the next few days.

On a clear summer morning the sun warms the ground, the warm air rises, and by the afternoon tall clouds may build into a thunderstorm. In winter a cold front can arrive with a sudden gust of wind, a drop in temperature and a short burst of rain or snow. After the front passes, the sky often clears and the night turns crisp and still.

Rain is not the only thing worth watching. Fog forms when moist air cools near the ground, frost appears when a clear night lets the warmth escape into space, and a dry wind can carry dust for hundreds of miles. People who work outdoors learn to read the sky, the feel of the air and the behavior of birds long before they check a forecast.

No forecast is perfect. The atmosphere is sensitive to small changes, so a prediction for tomorrow is usually reliable while a prediction for next week is only a rough guide. A good forecast says how confident it is, and a careful reader plans for the weather that is likely while keeping an umbrella nearby for the weather that is possible.`,
];

export const CORPUS_DIALOGUES: readonly string[] = [
  `User: What is a token?
Assistant: A token is a small piece of text, such as a word, part of a word or a mark of punctuation. Language models read and write text one token at a time.`,

  `User: Will it rain tomorrow?
Assistant: I cannot see the sky from here, but a local forecast will tell you the chance of rain. If the chance is high, take an umbrella.`,

  `User: Can you explain what an API is?
Assistant: An API is a set of requests that one program offers to another. The caller sends a request in an agreed shape, and the service sends back a response.`,

  `System: You are a helpful assistant.
User: Hello!
Assistant: Hello! How can I help you today?`,

  `User: Why do streaming responses matter?
Assistant: Streaming lets you read the first part of an answer while the rest is still being written, so a long reply feels much faster.`,

  `User: Write a short sentence about the wind.
Assistant: The wind moved through the tall grass like a slow wave across the sea.`,
];
